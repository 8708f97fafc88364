# bash completion for vmm: subcommands, options, configuration option names,
# and domain names and addresses from vmm's database.
_vmm() {
    local IFS=$'\n'
    COMPREPLY=($(vmm _complete "$COMP_CWORD" "${COMP_WORDS[@]}" 2>/dev/null))
}
complete -o default -F _vmm vmm
