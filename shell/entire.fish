# entire shell integration for fish: printed by `entire shell init fish`.
# Load it from ~/.config/fish/config.fish with
#
#     entire shell init fish | source
#
# Every agent command listed at the end becomes a function that starts the
# agent through `entire run`, so each agent run from this shell is a recorded
# session and its commits are attributed to it.
#
#   command claude          runs the real agent, without a session
#   ENTIRE_SHELL_NO_WRAP=1  set before the source line: define nothing
#   ENTIRE_SESSION_ID       already set (inside an agent session): agents run
#                           directly, the outer session keeps the work
#
# Live sessions in the prompt (`entire status --prompt` prints nothing when
# none are live):
#
#     function fish_right_prompt
#         entire status --prompt
#     end
#
# More, including starship: docs/shell.md.

# Interactive shells only, once per shell.
if status is-interactive; and not set -q __entire_shell_loaded; and test "$ENTIRE_SHELL_NO_WRAP" != 1
    set -g __entire_shell_loaded 1
    set -g __entire_bin @ENTIRE_BIN@

    # __entire_wrap AGENT CMD [ARG...]: run CMD as a session of AGENT.
    function __entire_wrap --argument-names agent cmd
        set -e argv[1..2]
        if test -n "$ENTIRE_SESSION_ID"
            command $cmd $argv
        else if not test -x "$__entire_bin"
            # entire was moved or uninstalled: never stand between the user and the agent.
            printf 'entire: %s not found; running %s without a session\n' $__entire_bin $cmd >&2
            command $cmd $argv
        else
            $__entire_bin run --agent $agent -- $cmd $argv
        end
    end

    # One per agent; --wraps gives it the agent's completions.
    function @CMD@ --wraps @CMD@ --description 'Run @CMD@ as an entire session'; __entire_wrap @AGENT@ @CMD@ $argv; end
end
