import os
import unittest

# Fails on the first run, passes on the re-run: state kept in a marker file named by the
# environment (regrtest runs each test in a fresh temporary cwd).
MARKER = os.environ.get("BB_FLAKY_MARKER", "")


class FlakyTests(unittest.TestCase):
    def test_flaky(self):
        if MARKER and not os.path.exists(MARKER):
            with open(MARKER, "w"):
                pass
            self.fail("first run fails")


if __name__ == "__main__":
    unittest.main()
