"""The Kivy touchscreen: thin views that render the core's FlowState and call its commands."""
