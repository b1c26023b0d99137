"""Sample scenes with fake content for `kiosk screenshot --scene NAME`, the README and the golden-image tests."""

from __future__ import annotations

from typing import Any

from ..core.config import KioskConfig, Side
from ..core.conversation import Conversation
from ..core.events import (
    DeviceState,
    DiagnosticRow,
    Event,
    DeviceStatus,
    FinalTranscript,
    Lifecycle,
    PartialTranscript,
    ServiceView,
    TicketIssued,
    Translation,
    TranslationPath,
    UiAction,
    UiCommand,
)
from .scene import SceneState

SCENES = ("attract", "conversation", "partial", "ticket", "ticket-band", "notices", "elderly", "rtl", "repeat",
          "diagnostics", "single", "not-translated", "partly-translated", "starting")

T0 = 1000.0  # a fixed clock, so renders are reproducible

TURNS_ZH_JA = [
    (Side.TELLER, "zh", "您好，请问办理什么业务？", "ja", "こんにちは。どのようなご用件でしょうか。", TranslationPath.NMT),
    (Side.CUSTOMER, "ja", "口座を開きたいです。", "zh", "我想开一个账户。", TranslationPath.PHRASE_MEMORY),
    (Side.TELLER, "zh", "好的，请出示您的身份证。", "ja", "かしこまりました。身分証明書をご提示ください。", TranslationPath.PHRASE_MEMORY),
    (Side.CUSTOMER, "ja", "手数料はいくらですか。", "zh", "手续费是多少？", TranslationPath.NMT),
]
TURNS_ZH_AR = [
    (Side.TELLER, "zh", "您好，请问办理什么业务？", "ar", "مرحبًا، كيف يمكنني مساعدتك اليوم؟", TranslationPath.PHRASE_MEMORY),
    (Side.CUSTOMER, "ar", "أود سحب 25,000 يوان.", "zh", "我想取25,000元。", TranslationPath.PHRASE_MEMORY),
    (Side.TELLER, "zh", "请输入您的密码。", "ar", "من فضلك أدخل رقمك السري.", TranslationPath.PHRASE_MEMORY),
]


class _Sample:
    """A sample conversation and its screen, fed in the bus's order (domain state first, then the view)."""

    def __init__(self, conversation: Conversation, state: SceneState) -> None:
        self.conversation, self.state = conversation, state

    def apply(self, ev: Event) -> None:
        self.conversation.apply(ev)
        self.state.apply(ev)


def _play(state: "_Sample", turns, first: int = 0) -> None:
    for i, (side, lang, text, target, tr, path) in enumerate(turns, first):
        uid = f"{side.value[0]}{i:04d}"
        state.apply(FinalTranscript(t=T0, side=side, utterance_id=uid, text=text, language=lang,
                                    language_probability=0.98, audio_s=2.0, asr_s=0.3))
        state.apply(Translation(t=T0, side=side, utterance_id=uid, source_language=lang, target_language=target,
                                source_text=text, text=tr, path=path))


def sample_scene(name: str, cfg: KioskConfig) -> tuple[SceneState, float, dict[str, Any]]:
    """(state, the time to render it at, display overrides) for a named sample scene."""
    if name not in SCENES:
        raise KeyError(name)
    conv = Conversation("zh", "ja", customer_languages=cfg.languages.customer)
    sample = _Sample(conv, SceneState("zh", "ja", history=cfg.display.history, conversation=conv))
    state = sample.state
    overrides: dict[str, Any] = {}
    if name in ("attract", "starting"):
        if name == "starting":  # the glass is up, the speech models are still loading
            sample.apply(Lifecycle(t=T0, phase="starting"))
        return state, T0, overrides
    if name == "rtl":
        sample.apply(UiCommand(t=T0, action=UiAction.LANGUAGE, value="ar"))
        _play(sample, TURNS_ZH_AR)
        return state, T0, overrides
    _play(sample, TURNS_ZH_JA)
    state = sample
    if name == "partial":
        state.apply(PartialTranscript(t=T0, side=Side.TELLER, utterance_id="t9", text="好的，手续费是", language="zh"))
    elif name in ("ticket", "ticket-band"):
        state.apply(TicketIssued(t=T0, number="A017", business="預金・お引き出し", language="ja",
                                 waiting_ahead=3, estimated_wait_min=9))
        if name == "ticket-band":  # the conversation goes on: the ticket yields to the newer caption
            _play(state, [(Side.TELLER, "zh", "请稍等，马上为您办理。", "ja", "少々お待ちください。すぐにお手続きいたします。",
                           TranslationPath.PHRASE_MEMORY)], first=len(TURNS_ZH_JA))
    elif name == "partly-translated":  # one sentence matched the memory, the other nothing safely
        said = "口座を開きたいです。この近くに郵便局はありますか。"
        state.apply(FinalTranscript(t=T0, side=Side.CUSTOMER, utterance_id="c0009", text=said, language="ja",
                                    language_probability=0.98, audio_s=3.0, asr_s=0.3))
        state.apply(Translation(t=T0, side=Side.CUSTOMER, utterance_id="c0009", source_language="ja",
                                target_language="zh", source_text=said, text="我想开一个账户。",
                                path=TranslationPath.PHRASE_MEMORY, untranslated=("この近くに郵便局はありますか。",),
                                note="partly not translated"))
    elif name == "not-translated":
        state.apply(FinalTranscript(t=T0, side=Side.CUSTOMER, utterance_id="c0009", text="この近くに郵便局はありますか。",
                                    language="ja", language_probability=0.98, audio_s=2.0, asr_s=0.3))
        state.apply(Translation(t=T0, side=Side.CUSTOMER, utterance_id="c0009", source_language="ja",
                                target_language="zh", source_text="この近くに郵便局はありますか。", text=None,
                                path=TranslationPath.NONE, note="no phrase matched"))
    elif name == "notices":
        state.apply(DeviceState(t=T0, device="idcard", status=DeviceStatus.DISCONNECTED, detail="USB unplugged"))
        state.apply(Translation(t=T0, side=Side.CUSTOMER, utterance_id="c0009", source_language="ja",
                                target_language="zh", source_text="五万円を引き出したいです", text="我想取5,000日元",
                                path=TranslationPath.NMT, verified=False,
                                note="numbers differ from the original: check with the customer"))
    elif name == "elderly":
        state.apply(UiCommand(t=T0, action=UiAction.ELDERLY, value="on"))
    elif name == "repeat":
        state.apply(UiCommand(t=T0, action=UiAction.REPEAT))
    elif name == "diagnostics":
        state.apply(ServiceView(t=T0, mode="checks", rows=(
            DiagnosticRow("display", "pass", "60 fps"), DiagnosticRow("audio: customer mic", "warn", "noise floor high"),
            DiagnosticRow("models: whisper-base", "pass", "hashes match"),
            DiagnosticRow("translation ja→zh", "fail", "no model: kiosk models add DIR"),
            DiagnosticRow("serial: ID-card reader", "pass", "115200 baud"),
        )))
    elif name == "single":
        overrides = {"layout": "single", "mirror_customer": False}
    return sample.state, T0, overrides
