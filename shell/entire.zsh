# entire shell integration for zsh: printed by `entire shell init zsh`.
# Load it from ~/.zshrc with
#
#     eval "$(entire shell init zsh)"
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
#     setopt prompt_subst
#     PROMPT='$(entire status --prompt | sed "s/$/ /")'$PROMPT
#
# More, including starship: docs/shell.md.

# Interactive shells only, once per shell.
if [[ -o interactive && -z ${__entire_shell_loaded-} && ${ENTIRE_SHELL_NO_WRAP-} != 1 ]]; then
    __entire_shell_loaded=1
    __entire_bin=@ENTIRE_BIN@

    # __entire_wrap AGENT CMD [ARG...]: run CMD as a session of AGENT.
    function __entire_wrap {
        # The user's options (ksh_arrays, sh_word_split, ...) must not change this function.
        \builtin emulate -L zsh
        local agent=$1 cmd=$2
        shift 2
        if [[ -n ${ENTIRE_SESSION_ID-} ]]; then
            \command "$cmd" "$@"
        elif [[ ! -x $__entire_bin ]]; then
            # entire was moved or uninstalled: never stand between the user and the agent.
            print -ru2 -- "entire: $__entire_bin not found; running $cmd without a session"
            \command "$cmd" "$@"
        else
            # After Ctrl-Z and fg, zsh finishes this function in a forked
            # subshell (ZSH_SUBSHELL grows) that cannot wait for the launcher:
            # the launcher writes how the agent ended into this file for it.
            local level=$ZSH_SUBSHELL status_file rc
            local -a report
            status_file=$(\command mktemp "${TMPDIR:-/tmp}/entire-status.XXXXXX" 2>/dev/null) &&
                report=(--status-file "$status_file")
            "$__entire_bin" run --agent "$agent" "${report[@]}" -- "$cmd" "$@"
            rc=$?
            if (( ZSH_SUBSHELL > level )) && [[ -s $status_file ]]; then
                rc=$(<"$status_file")
            fi
            [[ -n $status_file ]] && \command rm -f -- "$status_file"
            # That subshell's `return` does not reach the shell's $?; its exit does.
            (( ZSH_SUBSHELL > level )) && exit $rc
            return $rc
        fi
    }

    # One per agent. The `function` keyword keeps an alias of the same name
    # from being expanded into the definition.
    function @CMD@ { __entire_wrap @AGENT@ @CMD@ "$@"; }
fi
