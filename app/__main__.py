"""python -m app: the same as relsar-app."""

from app.main import main

main()
