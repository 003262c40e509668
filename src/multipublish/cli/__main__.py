from multipublish.cli import main

main()
