"""gettext for vmm: translations installed inside the package.

The catalogs live in ``vmm/locale/<lang>/LC_MESSAGES/vmm.mo``; gettext picks
the language from LANGUAGE, LC_ALL, LC_MESSAGES and LANG itself, so no
system locale has to be installed for a translation to be used.  When none
of the wanted languages has a catalog, gettext is not even imported: most
runs are in English, and every run counts.
"""

import os

_LOCALEDIR = os.path.join(os.path.dirname(__file__), 'locale')
_translation = None


class _English:
    """The messages as written, with English plurals."""

    @staticmethod
    def gettext(message):
        return message

    @staticmethod
    def ngettext(singular, plural, count):
        return singular if count == 1 else plural


def _wanted_languages():
    """The languages asked for, as gettext reads them."""
    for variable in ('LANGUAGE', 'LC_ALL', 'LC_MESSAGES', 'LANG'):
        value = os.environ.get(variable)
        if value:
            return value.split(':')
    return []


def _catalog():
    global _translation
    if _translation is None:
        try:
            available = os.listdir(_LOCALEDIR)
        except OSError:
            available = []
        if any(lang.split('_')[0].split('.')[0] in available
               for lang in _wanted_languages()):
            import gettext
            _translation = gettext.translation('vmm', _LOCALEDIR,
                                               fallback=True)
        else:
            _translation = _English
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
