import time
import unittest

# Longer than regrtest's PROGRESS_MIN_TIME (30 s): gives "-- running (1): ..." suffixes,
# heartbeat lines and "(32.0 sec)" durations. Not in the full runs (see make_samples.py).


class SlowTests(unittest.TestCase):
    def test_slow(self):
        time.sleep(32)


if __name__ == "__main__":
    unittest.main()
