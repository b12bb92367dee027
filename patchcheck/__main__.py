from patchcheck.cli import console_main

console_main()
