package gcpace

import "testing"

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		live, headroom uint64
		want           int
	}{
		{0, Headroom, 100},
		{20 << 20, Headroom, 100}, // a small daemon: GOGC's default
		{64 << 20, Headroom, 100}, // live = headroom: the default still
		{128 << 20, Headroom, 50}, // goal 192 MiB
		{2048 << 20, Headroom, 3}, // a 1,000-tunnel hub: 64 MiB above 2 GiB (61 MiB: rounded down)
		{1 << 40, Headroom, 1},    // never 0 (which would collect without end)
	} {
		if got := Percent(tc.live, tc.headroom); got != tc.want {
			t.Errorf("Percent(%d MiB, %d MiB) = %d, want %d", tc.live>>20, tc.headroom>>20, got, tc.want)
		}
	}
}
