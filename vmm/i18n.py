"""gettext for vmm: translations installed inside the package.

The catalogs live in ``vmm/locale/<lang>/LC_MESSAGES/vmm.mo``; gettext picks
the language from LANGUAGE, LC_ALL, LC_MESSAGES and LANG itself, so no
system locale has to be installed for a translation to be used.
"""

import gettext as _gettext
import os

_LOCALEDIR = os.path.join(os.path.dirname(__file__), 'locale')
_translation = None


def _catalog():
    global _translation
    if _translation is None:
        _translation = _gettext.translation('vmm', _LOCALEDIR, fallback=True)
    return _translation


def _(message):
    """Translate *message* into the user's language."""
    return _catalog().gettext(message)


def ngettext(singular, plural, count):
    """Translate a message whose form depends on *count*."""
    return _catalog().ngettext(singular, plural, count)


def reset():
    """Forget the loaded catalog, so a changed environment takes effect."""
    global _translation
    _translation = None
