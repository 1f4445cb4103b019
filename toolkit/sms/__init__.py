"""The SMS engine: segmentation, previews with the legal footer, GSM-safe rewrites, replies.

``analyze`` (segments.py) counts; ``preview`` (preview.py) composes body + footer and warns;
``gsm_safe`` (rewrite.py) proposes GSM-7 replacements; ``parse_reply`` (replies.py) recognises
STOP and friends; ``batch`` (batch.py) streams a campaign file into a per-recipient report.
"""

from .preview import SmsPreview, SmsWarning, preview
from .replies import Reply, keyword_sets, parse_reply, spec_keywords
from .rewrite import Change, gsm_safe
from .segments import GSM7, UCS2, NonGsm, SmsAnalysis, SmsError, analyze, segment_texts

__all__ = [
    "GSM7",
    "UCS2",
    "Change",
    "NonGsm",
    "Reply",
    "SmsAnalysis",
    "SmsError",
    "SmsPreview",
    "SmsWarning",
    "analyze",
    "gsm_safe",
    "keyword_sets",
    "parse_reply",
    "preview",
    "segment_texts",
    "spec_keywords",
]
