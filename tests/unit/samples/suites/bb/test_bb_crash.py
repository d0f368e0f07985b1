import os
import unittest


class CrashTests(unittest.TestCase):
    def test_abort(self):
        os.abort()


if __name__ == "__main__":
    unittest.main()
