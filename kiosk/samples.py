"""Sample scene content for `kiosk screenshot` and the README (fake data only)."""

from __future__ import annotations

from .config import KioskConfig, Side
from .events import FinalTranscript, Translation, TranslationPath
from .scene import SceneState


def sample_scene(name: str, cfg: KioskConfig) -> SceneState:
    teller = cfg.languages.teller
    state = SceneState(teller, "ja", history=cfg.display.history)
    if name == "attract":
        return state
    if name != "conversation":
        raise KeyError(name)
    turns = [
        (Side.TELLER, "zh", "您好，请问办理什么业务？", "ja", "こんにちは。どのようなご用件でしょうか。", TranslationPath.NMT),
        (Side.CUSTOMER, "ja", "口座を開きたいです。", "zh", "我想开一个账户。", TranslationPath.PHRASE_MEMORY),
        (Side.TELLER, "zh", "好的，请出示您的身份证。", "ja", "かしこまりました。身分証明書をご提示ください。", TranslationPath.PHRASE_MEMORY),
        (Side.CUSTOMER, "ja", "手数料はいくらですか。", "zh", "手续费是多少？", TranslationPath.NMT),
    ]
    for i, (side, lang, text, target, tr, path) in enumerate(turns):
        uid = f"{side.value[0]}{i:04d}"
        state.apply(FinalTranscript(side=side, utterance_id=uid, text=text, language=lang,
                                    language_probability=0.98, audio_s=2.0, asr_s=0.3))
        state.apply(Translation(side=side, utterance_id=uid, source_language=lang, target_language=target,
                                source_text=text, text=tr, path=path))
    return state
