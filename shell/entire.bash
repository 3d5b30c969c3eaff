# shellcheck shell=bash
#
# entire shell integration for bash: printed by `entire shell init bash`.
# Load it from ~/.bashrc with
#
#     eval "$(entire shell init bash)"
#
# Every agent command listed at the end becomes a function that starts the
# agent through `entire run`, so each agent run from this shell is a recorded
# session and its commits are attributed to it.
#
#   command claude          runs the real agent, without a session
#   ENTIRE_SHELL_NO_WRAP=1  set before the eval line: define nothing
#   ENTIRE_SESSION_ID       already set (inside an agent session): agents run
#                           directly, the outer session keeps the work
#
# Live sessions in the prompt (`entire status --prompt` prints nothing when
# none are live):
#
#     PS1='$(entire status --prompt | sed "s/$/ /")'$PS1
#
# More, including starship: docs/shell.md.

# Interactive shells only, once per shell.
if [[ $- == *i* && -z ${__entire_shell_loaded-} && ${ENTIRE_SHELL_NO_WRAP-} != 1 ]]; then
    __entire_shell_loaded=1
    __entire_bin=@ENTIRE_BIN@

    # __entire_direct CMD: whether to run CMD directly, not as a session:
    # inside an agent session, or when entire is gone (said once per call).
    __entire_direct() {
        if [[ -n ${ENTIRE_SESSION_ID-} ]]; then
            return 0
        elif [[ ! -x ${__entire_bin} ]]; then
            # entire was moved or uninstalled: never stand between the user and the agent.
            printf 'entire: %s not found; running %s without a session\n' "${__entire_bin}" "$1" >&2
            return 0
        fi
        return 1
    }

    # One per agent. The `function` keyword keeps an alias of the same name
    # from being expanded into the definition. bash names a stopped job after
    # the command inside the function, so the launcher is started under a
    # name that begins with the agent's (entire run dispatches on it), found
    # through bash's hash table: `jobs` lists `claude.entire`, `fg %claude`
    # matches it, and PATH stays as it is. With hashing off (`set +h`) the
    # launcher is called by its path.
    function @CMD@ { if __entire_direct @CMD@; then \command @CMD@ "$@"; elif \builtin hash -p "${__entire_bin}" @CMD@.entire 2>/dev/null; then @CMD@.entire "$@"; else "${__entire_bin}" run --agent @AGENT@ -- @CMD@ "$@"; fi; }
fi
