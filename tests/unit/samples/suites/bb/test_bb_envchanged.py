import os
import unittest


class EnvTests(unittest.TestCase):
    def test_env(self):
        os.environ["BB_ENV_CHANGED"] = "1"


if __name__ == "__main__":
    unittest.main()
