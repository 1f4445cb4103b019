"""The SMS engine: segmentation, previews with the legal footer, GSM-safe rewrites, replies.

``analyze`` (segments.py) counts, with Twilio's Smart Encoding when asked (smart.py);
``preview`` (preview.py) composes body + footer, warns and suggests rewrites with their savings;
``gsm_safe`` (rewrite.py) proposes GSM-7 replacements; ``parse_reply`` (replies.py) recognises
STOP and friends; ``batch`` (batch.py) streams a campaign file into a per-recipient report.
"""

from .preview import SmsPreview, SmsWarning, Suggestion, fill_placeholders, preview
from .replies import Reply, keyword_sets, parse_reply, spec_keywords
from .rewrite import Change, gsm_safe
from .segments import GSM7, UCS2, NonGsm, SmsAnalysis, SmsError, analyze, segment_texts
from .smart import SMART_ENCODING, Replacement, smart_encode

__all__ = [
    "GSM7",
    "SMART_ENCODING",
    "UCS2",
    "Change",
    "NonGsm",
    "Replacement",
    "Reply",
    "SmsAnalysis",
    "SmsError",
    "SmsPreview",
    "SmsWarning",
    "Suggestion",
    "analyze",
    "fill_placeholders",
    "gsm_safe",
    "keyword_sets",
    "parse_reply",
    "preview",
    "segment_texts",
    "smart_encode",
    "spec_keywords",
]
