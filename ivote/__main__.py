from ivote.cli import main

main()
