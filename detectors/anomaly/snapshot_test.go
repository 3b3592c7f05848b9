package anomaly

import (
	"errors"
	"math"
	"testing"
)

func TestSnapshotResumesExactly(t *testing.T) {
	a := NewDetector(DefaultConfig())
	ts := int64(1_700_000_000_000)
	val := func(i int) float64 { return 100 + 20*math.Sin(float64(i)/50) + float64(i%7) }
	for i := 0; i < 2000; i++ {
		a.Update(ts+int64(i)*60_000, val(i))
	}
	snap := a.AppendSnapshot(nil)
	if len(snap) != SnapshotSize {
		t.Fatalf("snapshot is %d bytes, SnapshotSize says %d", len(snap), SnapshotSize)
	}
	b := NewDetector(Config{ShortPoints: 9}) // a different config is overwritten too
	if err := b.RestoreSnapshot(snap); err != nil {
		t.Fatal(err)
	}
	for i := 2000; i < 3000; i++ {
		v := val(i)
		if i == 2500 {
			v = 1000 // an anomaly both must score the same
		}
		ra, rb := a.Update(ts+int64(i)*60_000, v), b.Update(ts+int64(i)*60_000, v)
		if ra != rb {
			t.Fatalf("point %d: original %+v, restored %+v", i, ra, rb)
		}
	}
}

func TestSnapshotRefusesOtherLayouts(t *testing.T) {
	d := NewDetector(DefaultConfig())
	snap := d.AppendSnapshot(nil)
	if err := d.RestoreSnapshot(snap[:len(snap)-1]); !errors.Is(err, ErrSnapshotLayout) {
		t.Fatalf("short snapshot: err = %v", err)
	}
	snap[0] ^= 0xff
	if err := d.RestoreSnapshot(snap); !errors.Is(err, ErrSnapshotLayout) {
		t.Fatalf("foreign fingerprint: err = %v", err)
	}
}
