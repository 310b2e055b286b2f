"""Root conftest of the repository.

The harness's pytest plugin is loaded through its ``pytest11`` entry point (``harness.plugin``), not from
here. This file only anchors the repository root: pytest puts the folder of a root conftest on
``sys.path``, so the Part 6 cases in ``testcases/`` import as a package from the harness's own tests.
"""
