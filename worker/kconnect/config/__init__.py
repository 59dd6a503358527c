"""Reading configuration: `.properties` files, config models, and messages for people."""
