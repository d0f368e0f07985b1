import time
import unittest


class TimeoutTests(unittest.TestCase):
    def test_hang(self):
        time.sleep(60)


if __name__ == "__main__":
    unittest.main()
