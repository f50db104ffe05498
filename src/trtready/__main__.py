"""``python -m trtready`` runs the command line."""

from trtready.cli.main import main

main()
