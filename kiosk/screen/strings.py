"""What the glass says to people in their language: caption markers, ticket texts, invitations, start-up.

Customer-facing text carries no internal codes: a caption's translation is marked as a reviewed translation (the
bank's translation memory), a machine translation, or not translated, in the reader's language. Languages outside
these tables fall back to English."""

from __future__ import annotations

from ..core.events import TranslationPath

# marker kind → language → text
MARKERS: dict[str, dict[str, str]] = {
    "reviewed": {"zh": "银行审定译文", "en": "Reviewed translation", "ja": "確認済みの翻訳", "ko": "검수된 번역",
                 "ru": "Проверенный перевод", "fr": "Traduction vérifiée", "es": "Traducción revisada",
                 "ar": "ترجمة معتمدة", "de": "Geprüfte Übersetzung"},
    "machine": {"zh": "机器翻译", "en": "Machine translation", "ja": "機械翻訳", "ko": "기계 번역",
                "ru": "Машинный перевод", "fr": "Traduction automatique", "es": "Traducción automática",
                "ar": "ترجمة آلية", "de": "Maschinelle Übersetzung"},
    "not-translated": {"zh": "未翻译", "en": "Not translated", "ja": "翻訳されていません", "ko": "번역되지 않음",
                       "ru": "Не переведено", "fr": "Non traduit", "es": "No traducido", "ar": "لم تتم الترجمة",
                       "de": "Nicht übersetzt"},
    "unverified": {"zh": "数字未经核实，请与柜员确认", "en": "Numbers not verified: please check with the teller",
                   "ja": "数字は未確認です。係員にご確認ください", "ko": "숫자가 확인되지 않았습니다. 직원에게 확인해 주세요",
                   "ru": "Числа не проверены: уточните у сотрудника", "fr": "Chiffres non vérifiés : vérifiez avec le guichetier",
                   "es": "Cifras no verificadas: confírmelas con el cajero", "ar": "الأرقام غير مؤكدة: يرجى التحقق مع الموظف",
                   "de": "Zahlen nicht geprüft: bitte am Schalter nachfragen"},
}

TICKET_TEXT = {
    "zh": ("您的号码", "前面还有 {n} 人", "预计等候约 {m} 分钟"),
    "en": ("Your number", "{n} waiting ahead of you", "about {m} min"),
    "ja": ("お客様の番号", "お待ちの方 {n} 名", "待ち時間 約{m}分"),
    "ko": ("고객님 번호", "대기 인원 {n}명", "약 {m}분 대기"),
    "ru": ("Ваш номер", "перед вами: {n}", "около {m} мин"),
    "fr": ("Votre numéro", "{n} personnes avant vous", "environ {m} min"),
    "es": ("Su número", "{n} personas delante", "unos {m} min"),
    "ar": ("رقمك", "أمامك {n} عملاء", "حوالي {m} دقيقة"),
    "de": ("Ihre Nummer", "{n} Kunden vor Ihnen", "etwa {m} Min."),
}

INVITATIONS = (
    ("zh", "请讲话，或将身份证放在读卡器上"),
    ("en", "Please speak, or place your ID card on the reader"),
    ("ja", "お話しください"),
    ("ko", "말씀해 주세요"),
    ("ru", "Пожалуйста, говорите"),
    ("ar", "تفضل بالكلام"),
)

STARTING = (("zh", "正在启动，请稍候…"), ("en", "Starting, one moment please…"))

MAINTENANCE = "维护中 · Maintenance · メンテナンス中"


def marker_kind(path: TranslationPath | None, has_translation: bool) -> str | None:
    """Which marker a listener sees under a caption (None: no marker, e.g. the same language)."""
    if path is TranslationPath.SAME_LANGUAGE:
        return None
    if not has_translation or path is None or path is TranslationPath.NONE:
        return "not-translated"
    return "reviewed" if path is TranslationPath.PHRASE_MEMORY else "machine"


def say(kind: str, lang: str) -> str:
    table = MARKERS[kind]
    return table.get(lang) or table["en"]
