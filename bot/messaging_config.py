"""WhatsApp Content API templates from `messaging.yml` (or the file MESSAGING_CONFIG names).

Outside WhatsApp's 24-hour session window only approved templates may be sent; inside it, quick
replies are Content API templates too. Content SIDs are not secrets, so they live in a file the
operator edits, next to the Rasa files; an empty `content_sid` means "not configured".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple

import yaml

DEFAULT_FILE = "messaging.yml"
WHATSAPP_QUICK_REPLY_MAX_BUTTONS = 3
WHATSAPP_QUICK_REPLY_TITLE_MAX = 20


class MessagingConfigError(ValueError):
    """messaging.yml cannot be used; the message names the entry."""


@dataclass(frozen=True)
class Template:
    """An approved template: its Content SID and which message argument fills {{1}}, {{2}}, ..."""

    content_sid: str
    variables: Tuple[str, ...] = ()
    # WhatsApp approves a template per language: the same template's Content SID in other languages.
    translations: Mapping[str, str] = field(default_factory=dict)

    def in_language(self, language: Optional[str]) -> "Template":
        """This template in a language, or in English (content_sid) where it has no approved translation."""
        sid = self.translations.get(language or "") or self.content_sid
        return Template(sid, self.variables)

    def content_variables(self, arguments: Mapping[str, str]) -> Dict[str, str]:
        missing = [name for name in self.variables if arguments.get(name) in (None, "")]
        if missing:
            raise MessagingConfigError(f"template {self.content_sid} needs {missing} from the message")
        return {str(number): str(arguments[name]) for number, name in enumerate(self.variables, start=1)}


@dataclass(frozen=True)
class MessagingConfig:
    whatsapp_templates: Mapping[str, Template] = field(default_factory=dict)  # by response name
    quick_replies: Mapping[int, str] = field(default_factory=dict)  # button count -> Content SID

    def template_for(self, response: str, language: Optional[str] = None) -> Optional[Template]:
        template = self.whatsapp_templates.get(response)
        return template.in_language(language) if template is not None else None

    def quick_reply_sid(self, titles) -> Optional[str]:
        """The quick-reply template for these button titles, when WhatsApp can show them as buttons."""
        titles = list(titles)
        if not titles or len(titles) > WHATSAPP_QUICK_REPLY_MAX_BUTTONS:
            return None
        if any(len(title) > WHATSAPP_QUICK_REPLY_TITLE_MAX for title in titles):
            return None
        return self.quick_replies.get(len(titles))


def load_messaging_config(path: Optional[Path]) -> MessagingConfig:
    """Read the file; a missing file is an empty configuration (templates are optional)."""
    if path is None or not Path(path).is_file():
        return MessagingConfig()
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise MessagingConfigError(f"{path}: not valid YAML: {error}") from error
    whatsapp = (document.get("whatsapp") or {}) if isinstance(document, dict) else {}
    templates: Dict[str, Template] = {}
    for response, entry in (whatsapp.get("templates") or {}).items():
        if not isinstance(entry, dict):
            raise MessagingConfigError(f"{path}: whatsapp.templates.{response} must be a mapping")
        sid = str(entry.get("content_sid") or "").strip()
        translations = entry.get("translations") or {}
        if not isinstance(translations, dict):
            raise MessagingConfigError(f"{path}: whatsapp.templates.{response}.translations maps a language "
                                       "code to a Content SID")
        if sid:
            translated = {str(lang): str(value).strip() for lang, value in translations.items()
                          if str(value or "").strip()}
            templates[str(response)] = Template(sid, tuple(str(v) for v in entry.get("variables") or ()),
                                                translated)
    quick: Dict[int, str] = {}
    for count, sid in (whatsapp.get("quick_replies") or {}).items():
        if str(sid or "").strip():
            if not str(count).isdigit() or not 1 <= int(count) <= WHATSAPP_QUICK_REPLY_MAX_BUTTONS:
                raise MessagingConfigError(f"{path}: whatsapp.quick_replies keys are button counts 1-3")
            quick[int(count)] = str(sid).strip()
    return MessagingConfig(templates, quick)
