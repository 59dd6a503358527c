"""Reading configuration: `.properties` and JSON files, and messages for people when they are wrong."""
