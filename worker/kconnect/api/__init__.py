"""The public connector API: what a connector author builds on.

Everything here is plain synchronous Python. The runtime gives every task its own thread, so a task
may block in `poll()` or `put()` on any library it likes.
"""
