import unittest


def helper(value):
    # The failing frame lives in another file than the test id's module in real suites;
    # here it is a helper so the traceback has two frames.
    return {"key": value}["missing"]


class FailTests(unittest.TestCase):
    def test_assert(self):
        self.assertEqual(1, 2, "values differ\nsecond line of the message")

    def test_error(self):
        helper(3)

    def test_pass(self):
        pass


if __name__ == "__main__":
    unittest.main()
