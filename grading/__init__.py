"""The course kit's autograder and release tool: `python -m grading --help`.

Kept empty on purpose: the sandbox's fork server imports this package, and must load nothing
but what a submission's process may hold (see grading/zygote.py).
"""
