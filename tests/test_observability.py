"""Central collection and what head office runs on it: the Prometheus agent config (checked by promtool, and run for
real: it scrapes a kiosk on 127.0.0.1 and remote-writes over mutual TLS with a bearer token to a receiver), the alert
rules (`promtool check rules`, `promtool test rules` on synthetic series, and a weakened rule failing them), the
Grafana dashboards, and that every PromQL expression in rules and dashboards names a metric the kiosk exports."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from kiosk.branch.metrics import Metrics, Snapshot
from kiosk.core.config import Side
from kiosk.core.errors import ErrorCode
from kiosk.core.events import (
    CardRead,
    DeviceState,
    DeviceStatus,
    DropReason,
    ErrorEvent,
    FinalTranscript,
    ModelLoaded,
    NfcTap,
    SpeechEnded,
    TicketIssued,
    Translation,
    TranslationPath,
    UtteranceDropped,
)

ROOT = Path(__file__).resolve().parents[1]
PROM = ROOT / "deploy" / "prometheus"
RULES = PROM / "kiosk-alerts.yml"
RULE_TESTS = PROM / "tests" / "kiosk-alerts.test.yml"
AGENT = PROM / "kiosk-agent.yml"
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
SCRAPE_SYNTHESISED = {"up"}  # made by Prometheus for every scrape target, not by the kiosk


def promtool() -> str:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.skip("promtool is missing: install the distribution's `prometheus` package (scripts/setup.sh does)")
    return exe


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, cwd=cwd)


# ---- promtool -------------------------------------------------------------------------------------------------------
def test_alert_rules_are_valid():
    res = run(promtool(), "check", "rules", str(RULES))
    assert res.returncode == 0, res.stdout + res.stderr


def test_alert_rules_unit_tests_pass():
    res = run(promtool(), "test", "rules", str(RULE_TESTS))
    assert res.returncode == 0, res.stdout + res.stderr


def test_alert_rule_tests_catch_a_weakened_rule(tmp_path):
    """The unit tests are not decoration: a device-down alert that waits 10 minutes instead of 2 fails them."""
    exe = promtool()
    (tmp_path / "tests").mkdir()
    shutil.copy(RULE_TESTS, tmp_path / "tests" / RULE_TESTS.name)
    text = RULES.read_text()
    weakened = text.replace("expr: kiosk_device_up == 0\n        for: 2m", "expr: kiosk_device_up == 0\n        for: 10m")
    assert weakened != text
    (tmp_path / RULES.name).write_text(weakened)
    res = run(exe, "test", "rules", str(tmp_path / "tests" / RULE_TESTS.name))
    assert res.returncode != 0 and "KioskDeviceDown" in res.stdout + res.stderr


def test_every_required_alert_exists():
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    assert alerts >= {"KioskDown", "KioskSilent", "KioskDeviceDown", "KioskBrokerDisconnected",
                      "KioskStaffOutboxGrowing", "KioskMicrophoneLost", "KioskRecognitionSlow",
                      "KioskUntranslatedShareHigh", "KioskUnverifiedTranslations", "KioskDiskNearlyFull"}
    tested = {t["alertname"] for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]
              for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
    assert tested == alerts  # each alert is shown firing by a unit test


def test_agent_config_is_valid_in_agent_mode():
    exe = promtool()
    res = run(exe, "check", "config", "--agent", str(AGENT))
    assert res.returncode == 0, res.stdout + res.stderr
    cfg = yaml.safe_load(AGENT.read_text())
    assert [t for sc in cfg["scrape_configs"] for s in sc["static_configs"] for t in s["targets"]] == ["127.0.0.1:9464"]
    (rw,) = cfg["remote_write"]
    assert rw["url"].startswith("https://")
    tls, auth = rw["tls_config"], rw["authorization"]
    assert {"ca_file", "cert_file", "key_file"} <= set(tls) and "credentials_file" in auth  # secrets come from files
    assert set(cfg["global"]["external_labels"]) == {"branch", "kiosk"}


# ---- PromQL names --------------------------------------------------------------------------------------------------
def _grafana_to_promql(expr: str) -> str:
    expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m").replace("$__range", "1h")
    return re.sub(r"\$\{?(\w+)(?::\w+)?\}?", "x", expr)


def metric_names(expr: str) -> set[str]:
    """Every metric a PromQL expression selects, from the parsed syntax tree (promql-parser)."""
    import promql_parser as pp

    names: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, pp.VectorSelector):
            if node.name:
                names.add(node.name)
            for m in node.matchers.matchers:
                if m.name == "__name__":
                    names.add(m.value)
        elif isinstance(node, pp.MatrixSelector):
            walk(node.vector_selector)
        elif isinstance(node, pp.Call):
            for a in node.args:
                walk(a)
        elif isinstance(node, pp.AggregateExpr):
            walk(node.expr)
            if node.param is not None:
                walk(node.param)
        elif isinstance(node, pp.BinaryExpr):
            walk(node.lhs)
            walk(node.rhs)
        elif isinstance(node, (pp.ParenExpr, pp.UnaryExpr, pp.SubqueryExpr)):
            walk(node.expr)

    walk(pp.parse(_grafana_to_promql(expr)))
    return names


def rule_expressions() -> list[str]:
    return [r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def dashboard_expressions() -> list[str]:
    out = []
    for path in DASHBOARDS:
        d = json.loads(path.read_text())
        out += [t["expr"] for p in d["panels"] for t in p.get("targets", [])]
        for v in d["templating"]["list"]:
            if v["type"] == "query":  # label_values(metric{…}, label)
                m = re.fullmatch(r"label_values\((.+),\s*\w+\)", v["query"]["query"])
                out.append(m.group(1))
    return out


def referenced_metric_names() -> set[str]:
    return set().union(*(metric_names(e) for e in rule_expressions() + dashboard_expressions()))


def test_metric_names_parse_robustly():
    e = 'sum by (le) (rate({__name__="a_total", x=~"$kiosk"}[$__rate_interval])) / on(kiosk) group_left b offset 5m'
    assert metric_names(e) == {"a_total", "b"}
    assert metric_names("histogram_quantile(0.95, sum(rate(c_bucket[5m])) by (le)) > 1 unless -d") == {"c_bucket", "d"}
    assert metric_names('max_over_time((e + f)[1h:5m]) or topk(3, g) or vector(0)') == {"e", "f", "g"}


def fully_fed_metrics() -> Metrics:
    """A Metrics that has seen one of every event and a full snapshot: every family has samples."""
    m = Metrics(volumes={"data": ROOT})
    c = Side.CUSTOMER
    for ev in (
        SpeechEnded(side=c, utterance_id="c1", audio_t=1, duration_s=1, reason="silence", speech_end_t=0.5),
        FinalTranscript(side=c, utterance_id="c1", text="x", language="en", language_probability=1, audio_s=1,
                        asr_s=0.2),
        Translation(side=c, utterance_id="c1", source_language="en", target_language="zh", source_text="x", text="y",
                    path=TranslationPath.NMT),
        UtteranceDropped(side=c, utterance_id="c2", reason=DropReason.BLEED),
        TicketIssued(number="A001", business="cash", language="en"),
        CardRead(card_type="resident", masked_name="*", masked_id="*", id_hash="0"),
        NfcTap(uid_hash="0", kind="iso14443-4"),
        ErrorEvent(stage="mt", code=ErrorCode.MT_FAILED, message="x"),
        DeviceState(device="idcard", status=DeviceStatus.OK),
        DeviceState(device="broker", status=DeviceStatus.OK),
        ModelLoaded(model="whisper-base", kind="asr", load_s=1, warmup_s=1),
    ):
        m.on_event(ev)
    m.watch(lambda: Snapshot(queues={"translation": 0}, asr_jobs={("final", "served"): 1},
                             translation_jobs={("final", "served"): 1}, audio_seconds={"customer": 1.0},
                             render_frames=1, outbox=0))
    return m


def exported_sample_names() -> set[str]:
    return {s.name for fam in fully_fed_metrics().registry.collect() for s in fam.samples}


def test_rules_and_dashboards_name_only_metrics_the_kiosk_exports():
    referenced = referenced_metric_names()
    assert referenced - SCRAPE_SYNTHESISED <= exported_sample_names(), referenced - exported_sample_names()
    assert "kiosk_staff_outbox_depth" in referenced and "kiosk_caption_latency_seconds_bucket" in referenced


def test_readme_names_only_metrics_the_kiosk_exports():
    named = set(re.findall(r"\b(?:kiosk|process)_[a-z_]+[a-z]\b", (ROOT / "README.md").read_text()))
    named = {n for n in named if not n.startswith(("kiosk_id", "kiosk_run"))}
    families = {f.name for f in fully_fed_metrics().registry.collect()}
    assert named <= exported_sample_names() | families, named - exported_sample_names() - families


# ---- dashboards ----------------------------------------------------------------------------------------------------
def test_dashboards_fleet_and_branch_show_every_family():
    assert {p.stem for p in DASHBOARDS} == {"kiosk-fleet", "kiosk-branch"}
    for path in DASHBOARDS:
        d = json.loads(path.read_text())
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids)) and d["uid"] == path.stem
        for p in d["panels"]:
            g = p["gridPos"]
            assert 0 <= g["x"] and g["x"] + g["w"] <= 24, p["title"]
            if p["type"] != "row":
                assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
                assert p["targets"] and all(t["expr"] for t in p["targets"]), p["title"]
        assert any(v["name"] == "datasource" and v["query"] == "prometheus" for v in d["templating"]["list"])
    branch = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "kiosk-branch.json").read_text())
    shown = set().union(*(metric_names(t["expr"]) for p in branch["panels"] for t in p.get("targets", [])))
    families = {f.name for f in fully_fed_metrics().registry.collect()} - {"process_virtual_memory_bytes",
                                                                          "process_max_fds"}
    missing = {f for f in families if not any(n == f or n.startswith(f + "_") for n in shown)}
    assert not missing, f"families with no panel on the branch dashboard: {missing}"
    prov = yaml.safe_load((ROOT / "deploy" / "grafana" / "provisioning" / "dashboards" / "kiosk.yml").read_text())
    assert prov["apiVersion"] == 1 and prov["providers"][0]["type"] == "file"


# ---- the agent, for real -------------------------------------------------------------------------------------------
def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pki(d: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def cert(cn, key, issuer, issuer_key, *, ca=False, san=None, usage=None):
        b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
             .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(hours=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        if usage:
            b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    def write(name, obj):
        p = d / name
        if hasattr(obj, "private_bytes"):
            p.write_bytes(obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
        else:
            p.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
        return p

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "head office test CA")])
    ca = cert("head office test CA", ca_key, ca_name, ca_key, ca=True)
    srv_key, cli_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    srv = cert("127.0.0.1", srv_key, ca_name, ca_key, san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
               usage=ExtendedKeyUsageOID.SERVER_AUTH)
    cli = cert("kiosk k-test", cli_key, ca_name, ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    return {"ca": write("ca.pem", ca), "server": write("server.pem", srv), "server_key": write("server.key", srv_key),
            "client": write("client.pem", cli), "client_key": write("client.key", cli_key)}


def _write_request_class():
    """prometheus.WriteRequest (remote write 1.0) built from its field numbers: Label, Sample, TimeSeries."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="kiosk_test_remote.proto", package="kiosktest", syntax="proto3")

    def message(name, *fields):
        m = fdp.message_type.add(name=name)
        for fname, number, ftype, repeated, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype,
                            label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL)
            if type_name:
                f.type_name = f".kiosktest.{type_name}"

    message("Label", ("name", 1, F.TYPE_STRING, False, None), ("value", 2, F.TYPE_STRING, False, None))
    message("Sample", ("value", 1, F.TYPE_DOUBLE, False, None), ("timestamp", 2, F.TYPE_INT64, False, None))
    message("TimeSeries", ("labels", 1, F.TYPE_MESSAGE, True, "Label"), ("samples", 2, F.TYPE_MESSAGE, True, "Sample"))
    message("WriteRequest", ("timeseries", 1, F.TYPE_MESSAGE, True, "TimeSeries"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("kiosktest.WriteRequest"))


class Receiver:
    """Head office's remote-write endpoint: HTTPS that demands a client certificate from our CA and the token."""

    def __init__(self, pki: dict[str, Path], token: str) -> None:
        import cramjam

        cls = _write_request_class()
        self.series: list[dict[str, str]] = []
        self.rejected: list[str] = []
        self.cond = threading.Condition()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Authorization") != f"Bearer {token}":
                    outer.rejected.append("token")
                    self.send_response(401)
                    self.end_headers()
                    return
                req = cls()
                req.ParseFromString(bytes(cramjam.snappy.decompress_raw(body)))
                with outer.cond:
                    outer.series += [{lb.name: lb.value for lb in ts.labels} for ts in req.timeseries]
                    outer.cond.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_a):
                pass

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki["server"], pki["server_key"])
        ctx.load_verify_locations(pki["ca"])
        ctx.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no connection
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, pred, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: pred(self.series), timeout)


def test_agent_scrapes_the_kiosk_and_remote_writes_over_mutual_tls(tmp_path):
    """The committed agent config and flags, run by the distribution's prometheus: kiosk metrics reach head office
    with the branch and kiosk labels, over TLS with a client certificate and the token read from a file."""
    promtool()
    exe = shutil.which("prometheus")
    if exe is None:
        pytest.skip("prometheus is missing: install the distribution's `prometheus` package (scripts/setup.sh does)")
    pki = _pki(tmp_path)
    token = "t0ken-" + os.urandom(8).hex()
    (tmp_path / "token").write_text(token + "\n")
    receiver = Receiver(pki, token)
    metrics = Metrics()
    metrics.watch(lambda: Snapshot(outbox=3))
    kiosk_port = _port()
    server = metrics.serve(kiosk_port)
    cfg = yaml.safe_load(AGENT.read_text())
    cfg["global"]["scrape_interval"] = "1s"
    cfg["global"]["scrape_timeout"] = "1s"
    cfg["scrape_configs"][0]["static_configs"][0]["targets"] = [f"127.0.0.1:{kiosk_port}"]
    rw = cfg["remote_write"][0]
    rw["url"] = f"https://127.0.0.1:{receiver.port}/api/v1/write"
    rw["tls_config"].update(ca_file=str(pki["ca"]), cert_file=str(pki["client"]), key_file=str(pki["client_key"]))
    rw["authorization"]["credentials_file"] = str(tmp_path / "token")
    rw["queue_config"]["batch_send_deadline"] = "1s"
    (tmp_path / "agent.yml").write_text(yaml.safe_dump(cfg))
    defaults = dict(ln.split("=", 1) for ln in (PROM / "prometheus.default").read_text().splitlines()
                    if ln and not ln.startswith("#"))
    args = [a for a in shlex.split(shlex.split(defaults["ARGS"])[0])
            if not a.startswith(("--config.file", "--storage.agent.path", "--web.listen-address"))]
    assert "--enable-feature=agent,expand-external-labels" in args
    env = dict(os.environ, KIOSK_BRANCH_ID="b-test", KIOSK_ID="k-test")
    proc = subprocess.Popen([exe, *args, f"--config.file={tmp_path / 'agent.yml'}",
                             f"--storage.agent.path={tmp_path / 'wal'}", f"--web.listen-address=127.0.0.1:{_port()}"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        def arrived(series):
            return any(s.get("__name__") == "kiosk_staff_outbox_depth" for s in series) and any(
                s.get("__name__") == "up" for s in series)

        assert receiver.wait(arrived, 60), (receiver.rejected, proc.poll())
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        server.shutdown()
        receiver.server.shutdown()
    outbox = next(s for s in receiver.series if s["__name__"] == "kiosk_staff_outbox_depth")
    assert outbox["branch"] == "b-test" and outbox["kiosk"] == "k-test" and outbox["job"] == "kiosk"
    assert not receiver.rejected
