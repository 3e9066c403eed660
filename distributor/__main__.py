from distributor.cli import main

main()
