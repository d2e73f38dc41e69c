from latentreel.cli import main

main()
