import unittest

# An import-time error: regrtest reports "test test_bb_uncaught crashed -- Traceback" (<=3.10)
# or "failed (uncaught exception)" (3.11.7+).
VALUE = 1 / 0


class NeverTests(unittest.TestCase):
    def test_never(self):
        pass
