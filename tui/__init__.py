"""The Textual dashboard (`runtime dashboard`); built on runtime.control only."""
