"""The bank's table as data: reloaded when its file changes or on SIGHUP, and distributed to the fleet as a versioned,
Ed25519-signed table over a real mosquitto broker — applied atomically only when the signature verifies and the
version is newer; a bad signature or a broken table gets a notice and changes nothing."""

import asyncio
import io
import json
import queue
import shutil
import signal
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kiosk.cli import app
from kiosk.core.bus import EventBus
from kiosk.core.events import Notice
from kiosk.translation.fleet import FleetError, FleetUpdater, TableService, keygen, sign_table, verify
from kiosk.translation.memory import MemoryHolder, load_memory
from kiosk.translation.table import dump_table, load_table

from .test_branch import Broker

FIXTURE = Path(__file__).parent / "data" / "tm_fixture.toml"


@pytest.fixture(scope="module")
def keys():
    return keygen()


def signed(keys, version, table_text=None):
    return sign_table(table_text if table_text is not None else dump_table(load_table(FIXTURE)), version, keys[0])


def thanks_as(text: str) -> str:
    """The fixture table with the English "Thank you." reworded (a visible change between versions)."""
    return dump_table(load_table(FIXTURE)).replace('say = "Thank you."', f'say = "{text}"')


def test_sign_and_verify(keys):
    st = verify(signed(keys, 3), keys[1])
    assert st.version == 3 and "[intents.open-account]" in st.table
    other = keygen()
    with pytest.raises(FleetError, match="does not verify"):
        verify(signed(keys, 3), other[1])
    tampered = json.loads(signed(keys, 3))
    tampered["table"] = tampered["table"].replace("我想销户", "我想开户")
    with pytest.raises(FleetError, match="does not verify"):
        verify(json.dumps(tampered).encode(), keys[1])
    with pytest.raises(FleetError, match="not a signed"):
        verify(b"garbage", keys[1])


def test_applied_only_when_newer_and_valid(tmp_path, keys):
    holder = MemoryHolder(load_memory(FIXTURE))
    up = FleetUpdater(holder, keys[1], tmp_path / "state" / "table.json")
    assert "version 2 applied" in up.apply(sign_table(thanks_as("Thanks a lot."), 2, keys[0]))
    assert holder.memory.render("thank-you", "en") == "Thanks a lot." and holder.memory.version == 2
    before = holder.memory
    with pytest.raises(FleetError, match="not newer"):
        up.apply(sign_table(thanks_as("Many thanks."), 2, keys[0]))
    broken = thanks_as("Thanks {amount}.")  # a slot the catalogue does not have
    with pytest.raises(FleetError, match="broken"):
        up.apply(sign_table(broken, 5, keys[0]))
    with pytest.raises(FleetError, match="broken"):
        up.apply(sign_table("[intents", 6, keys[0]))
    assert holder.memory is before and up.version == 2
    # a restart keeps the applied table (and verifies it again)
    holder2 = MemoryHolder(load_memory(FIXTURE))
    up2 = FleetUpdater(holder2, keys[1], tmp_path / "state" / "table.json")
    assert up2.load_stored() and up2.version == 2 and holder2.memory.render("thank-you", "en") == "Thanks a lot."
    (tmp_path / "state" / "table.json").write_bytes(b"{}")
    assert not FleetUpdater(MemoryHolder(load_memory(FIXTURE)), keys[1], tmp_path / "state" / "table.json").load_stored()


def test_reload_on_change_keeps_the_old_table_when_the_new_one_is_bad(tmp_path):
    f = tmp_path / "bank.toml"
    shutil.copy(FIXTURE, f)
    holder = MemoryHolder(load_memory(f), path=f)
    bus = EventBus()
    notices = []
    bus.listen(lambda e: notices.append(e.text) if isinstance(e, Notice) else None)
    svc = TableService(holder, bus)
    assert not holder.changed()
    f.write_text(FIXTURE.read_text(encoding="utf-8").replace('say = "Thank you."', 'say = "Thanks!"'), encoding="utf-8")
    assert holder.changed()
    assert asyncio.run(svc.reload())
    assert holder.memory.render("thank-you", "en") == "Thanks!" and notices[-1] == "translation table reloaded"
    f.write_text(FIXTURE.read_text(encoding="utf-8").replace('say = "Thank you."', 'say = "Thanks {count}!"'),
                 encoding="utf-8")
    assert not asyncio.run(svc.reload())
    assert holder.memory.render("thank-you", "en") == "Thanks!"
    assert notices[-1].startswith("translation table not reloaded") and "thank-you:en" in notices[-1]


def test_sighup_reloads_a_running_kiosks_table(tmp_path):
    """The app's SIGHUP handler re-reads translation.phrases_file (here: the handler the kiosk installs)."""
    f = tmp_path / "bank.toml"
    shutil.copy(FIXTURE, f)
    holder = MemoryHolder(load_memory(f), path=f)
    bus = EventBus()
    svc = TableService(holder, bus)

    async def main():
        loop = asyncio.get_running_loop()
        bus.bind(loop)
        done = asyncio.Event()

        async def reload():
            await svc.reload()
            done.set()

        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(reload()))
        f.write_text(FIXTURE.read_text(encoding="utf-8").replace('say = "Thank you."', 'say = "Cheers."'),
                     encoding="utf-8")
        signal.raise_signal(signal.SIGHUP)
        await asyncio.wait_for(done.wait(), 10)
        loop.remove_signal_handler(signal.SIGHUP)

    asyncio.run(main())
    assert holder.memory.render("thank-you", "en") == "Cheers."


def test_fleet_table_over_a_real_broker(tmp_path, keys):
    """Retained on the topic: a kiosk that connects later still gets it; a bad signature changes nothing."""
    from kiosk.branch.fleet import RetainedSubscriber, publish_retained

    broker = Broker(tmp_path).start()
    try:
        topic = "bank/translation-table"
        publish_retained("127.0.0.1", broker.port, topic, sign_table(thanks_as("Thank you kindly."), 7, keys[0]))
        holder = MemoryHolder(load_memory(FIXTURE))
        up = FleetUpdater(holder, keys[1], tmp_path / "table.json")
        results: queue.Queue = queue.Queue()

        def arrived(payload: bytes) -> None:
            try:
                results.put(up.apply(payload))
            except FleetError as e:
                results.put(e)

        sub = RetainedSubscriber("127.0.0.1", broker.port, topic, arrived).start()
        try:
            assert "version 7 applied" in results.get(timeout=10)
            assert holder.memory.render("thank-you", "en") == "Thank you kindly."
            forged = sign_table(thanks_as("Send money to this account."), 8, keygen()[0])
            publish_retained("127.0.0.1", broker.port, topic, forged)
            assert isinstance(results.get(timeout=10), FleetError)
            assert holder.memory.render("thank-you", "en") == "Thank you kindly." and up.version == 7
            publish_retained("127.0.0.1", broker.port, topic, sign_table(thanks_as("Thanks again."), 9, keys[0]))
            assert "version 9 applied" in results.get(timeout=10)
            assert holder.memory.render("thank-you", "en") == "Thanks again."
        finally:
            sub.stop()
    finally:
        broker.stop()


def test_bank_tooling_validate_sign_verify_publish(tmp_path, keys):
    runner = CliRunner()
    key = tmp_path / "keys" / "sign.pem"
    res = runner.invoke(app, ["translations", "keygen", "--out", str(key)])
    assert res.exit_code == 0, res.output
    public = res.output.strip().splitlines()[-1]
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    res = runner.invoke(app, ["translations", "validate", str(FIXTURE)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "table-v4.json"
    res = runner.invoke(app, ["translations", "sign", str(FIXTURE), "--key", str(key), "--version", "4", "--out", str(out)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["translations", "verify", str(out), "--public-key", public])
    assert res.exit_code == 0 and "version 4" in res.output, res.output
    res = runner.invoke(app, ["translations", "verify", str(out), "--public-key", keys[1]])
    assert res.exit_code == 2
    bad = tmp_path / "bad.toml"
    bad.write_text(FIXTURE.read_text(encoding="utf-8").replace('say = "我想取{amount}。"', 'say = "我想取钱。"'),
                   encoding="utf-8")
    res = runner.invoke(app, ["translations", "sign", str(bad), "--key", str(key), "--version", "5", "--out",
                              str(tmp_path / "no.json")])
    assert res.exit_code == 2 and f"{bad}:withdraw-amount:zh:" in res.output and not (tmp_path / "no.json").exists()
    # the kiosk's own config check names the table's problems too
    site = tmp_path / "site.toml"
    site.write_text(f'[translation]\nphrases_file = "{bad}"\n', encoding="utf-8")
    res = runner.invoke(app, ["config", "validate", str(site)])
    assert res.exit_code == 2 and f"{bad}:withdraw-amount:zh:" in res.output
    res = runner.invoke(app, ["doctor", "--config", str(site)])  # not fatal: the kiosk falls back to the built-in table
    assert "warn: config/translation table:" in res.output and f"{bad}:withdraw-amount:zh:" in res.output
    broker = Broker(tmp_path).start()
    try:
        got = threading.Event()
        from kiosk.branch.fleet import RetainedSubscriber

        sub = RetainedSubscriber("127.0.0.1", broker.port, "t/table", lambda p: got.set()).start()
        try:
            res = runner.invoke(app, ["translations", "publish", str(out), "--host", "127.0.0.1", "--port",
                                      str(broker.port), "--topic", "t/table"])
            assert res.exit_code == 0, res.output
            assert got.wait(10)
        finally:
            sub.stop()
    finally:
        broker.stop()


def test_a_running_kiosk_reloads_on_sighup_applies_the_fleet_table_and_sends_quick_replies(tmp_path, keys):
    """The whole wiring in a running kiosk: its table reloaded on SIGHUP, the signed fleet table applied from a real
    broker, a quick reply sent to the customer's side."""
    import os

    from kiosk.app import KioskApp
    from kiosk.core.events import Lifecycle, Translation, UiAction, UiCommand

    from .fakes import FakeRecogniser, Line
    from .test_startup import site

    table = tmp_path / "bank.toml"
    shutil.copy(FIXTURE, table)
    broker = Broker(tmp_path).start()
    loaded = site(tmp_path, f"""
[languages]
teller = "zh"
customer = ["ja", "en"]
customer_default = "ja"
[staff]
mqtt_host = "127.0.0.1"
mqtt_port = {broker.port}
[translation]
phrases_file = "{table}"
fleet_topic = "bank/translation-table"
fleet_public_key = "{keys[1]}"
fleet_store = "{tmp_path}/applied.json"
""")
    kiosk = KioskApp(loaded.config, loaded=loaded, out=io.StringIO(),
                     transcriber_factory=lambda: FakeRecogniser([Line("hello", "zh")]))
    seen: list = []
    kiosk.bus.listen(seen.append)

    async def wait_for(pred, timeout=20):
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not any(pred(e) for e in seen):
            assert loop.time() < end, [type(e).__name__ for e in seen][-20:]
            await asyncio.sleep(0.02)

    async def main():
        run = asyncio.create_task(kiosk.run())
        try:
            await wait_for(lambda e: isinstance(e, Lifecycle) and e.phase in ("ready", "degraded"))
            table.write_text(FIXTURE.read_text(encoding="utf-8").replace('say = "ありがとうございます。"',
                                                                        'say = "どうもありがとうございます。"'),
                             encoding="utf-8")
            os.kill(os.getpid(), signal.SIGHUP)
            await wait_for(lambda e: isinstance(e, Notice) and e.text == "translation table reloaded")
            assert kiosk.memory.memory.render("thank-you", "ja") == "どうもありがとうございます。"
            kiosk.bus.publish(UiCommand(action=UiAction.QUICK_REPLY, value="open"))
            for ch in "qianming":
                kiosk.bus.publish(UiCommand(action=UiAction.QUICK_REPLY, value=f"char:{ch}"))
            kiosk.bus.publish(UiCommand(action=UiAction.QUICK_REPLY, value="pick:1"))
            await wait_for(lambda e: isinstance(e, Translation) and e.text == "こちらにご署名をお願いします。")
            await asyncio.to_thread(publish_retained, "127.0.0.1", broker.port, "bank/translation-table",
                                    sign_table(thanks_as("Thanks from the fleet."), 3, keys[0]))
            await wait_for(lambda e: isinstance(e, Notice) and "version 3 applied" in e.text)
            assert kiosk.memory.memory.render("thank-you", "en") == "Thanks from the fleet."
            assert (tmp_path / "applied.json").exists()
            os.kill(os.getpid(), signal.SIGHUP)  # the fleet's table wins over the local file from now on
            await wait_for(lambda e: isinstance(e, Notice) and "version 3 is in use" in e.text)
            assert kiosk.memory.memory.render("thank-you", "en") == "Thanks from the fleet."
        finally:
            kiosk.request_stop()
            await asyncio.wait_for(run, 60)

    from kiosk.branch.fleet import publish_retained

    try:
        asyncio.run(main())
    finally:
        broker.stop()
