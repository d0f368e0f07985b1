import unittest


class SubTests(unittest.TestCase):
    def test_sub(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertLess(i, 1)

    def test_doc(self):
        """Docstring first line shown by unittest."""
        self.assertTrue(False, "test test_bb_other crashed -- not a real crash")

    @unittest.expectedFailure
    def test_unexpected(self):
        pass


if __name__ == "__main__":
    unittest.main()
