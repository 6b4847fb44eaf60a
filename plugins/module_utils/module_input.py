# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Building an AnsibleModule so that no task argument can end in a traceback.

ansible-core's ``int`` and ``float`` option types raise OverflowError instead of a validation error
for numbers they cannot represent: ``.inf`` or ``-.inf`` from YAML for an ``int`` option, an integer
beyond the float range for a ``float`` option. ``new_module`` answers those with ``fail_json`` naming
the option and the value, and refuses a ``path`` option holding a NUL character, which every file
function refuses with ValueError. Every other check stays in the argument spec.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]
from ansible.module_utils.common.validation import check_type_float, check_type_int  # type: ignore[import-untyped]

_NUMBER_TYPES = ("int", "float")


def new_module(argument_spec: Dict[str, Any], **kwargs: Any) -> AnsibleModule:
    """``AnsibleModule(argument_spec, **kwargs)``, failing cleanly on numbers ansible-core cannot convert."""
    try:
        module = AnsibleModule(argument_spec=argument_spec, **kwargs)
    except OverflowError:
        # Every option as raw: validation cannot overflow, secrets stay hidden, and fail_json names the culprit.
        raw = AnsibleModule(
            argument_spec={
                name: {"type": "raw", "no_log": bool(option.get("no_log"))} for name, option in argument_spec.items()
            },
            supports_check_mode=True,
        )
        raw.fail_json(msg=_overflow_message(raw.params, argument_spec))
    for name, option in argument_spec.items():
        value = module.params.get(name)
        if option.get("type") == "path" and isinstance(value, str) and "\x00" in value:
            module.fail_json(
                msg="%s=%s contains a NUL character, which no path can hold; give a file path." % (name, _shown(value))
            )
    return module


def _overflow_message(params: Mapping[str, Any], argument_spec: Mapping[str, Any]) -> str:
    culprit = unrepresentable(params, argument_spec)
    if culprit is None:
        return "A numeric option is out of range; numbers must be finite."
    name, value, wanted = culprit
    return "%s=%s is not a finite number; give a %s%s." % (
        name,
        _shown(value),
        "whole number" if wanted == "int" else "number",
        _default(argument_spec.get(name, {})),
    )


def unrepresentable(params: Mapping[str, Any], spec: Mapping[str, Any]) -> Optional[Tuple[str, Any, str]]:
    """The first numeric option (name, value, type) whose value ansible-core cannot convert, or None.

    Suboptions are searched too and named by their path, such as ``disks[1].nvme_port``.
    """
    for name, option in spec.items():
        wanted = option.get("type")
        value = params.get(name)
        if wanted in _NUMBER_TYPES and _overflows(value, wanted):
            return name, value, wanted
        entries = value if isinstance(value, list) else [value]
        for index, entry in enumerate(entries):
            if option.get("options") and isinstance(entry, dict):
                found = unrepresentable(entry, option["options"])
                if found is not None:
                    where = "%s[%d]" % (name, index) if isinstance(value, list) else name
                    return "%s.%s" % (where, found[0]), found[1], found[2]
    return None


def _overflows(value: Any, wanted: str) -> bool:
    checker = check_type_int if wanted == "int" else check_type_float
    try:
        checker(value)
    except OverflowError:
        return True
    except (TypeError, ValueError):
        return False
    return False


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _default(option: Mapping[str, Any]) -> str:
    default = option.get("default")
    return "" if default is None else " (the default is %s)" % default
