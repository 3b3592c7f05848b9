package converters

import (
	"errors"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// ToTimeSeries reshapes a table frame for time series panels. A frame with
// a time column and numbers is "wide" already; one with text columns too is
// "long" (one row per time and label set) and becomes wide, with the text
// columns as labels on the value fields.
func ToTimeSeries(frame *data.Frame) (*data.Frame, error) {
	schema := frame.TimeSeriesSchema()
	switch schema.Type {
	case data.TimeSeriesTypeNot:
		return nil, errors.New("the Time series format needs a time column and at least one numeric column: add them, or choose the Table format")
	case data.TimeSeriesTypeWide:
		setType(frame, data.FrameTypeTimeSeriesWide)
		return frame, nil
	}
	if n, _ := frame.RowLen(); n == 0 {
		setType(frame, data.FrameTypeTimeSeriesWide)
		return frame, nil
	}
	if err := checkSorted(frame.Fields[schema.TimeIndex]); err != nil {
		return nil, err
	}
	wide, err := data.LongToWide(frame, nil)
	if err != nil {
		return nil, err
	}
	wide.Meta = nil // LongToWide shares the long frame's Meta; give the wide one its own.
	setType(wide, data.FrameTypeTimeSeriesWide)
	return wide, nil
}

func setType(f *data.Frame, t data.FrameType) {
	if f.Meta == nil {
		f.Meta = &data.FrameMeta{}
	}
	f.Meta.Type = t
	f.Meta.TypeVersion = data.FrameTypeVersion{0, 1}
}

func checkSorted(f *data.Field) error {
	var prev time.Time
	for i := 0; i < f.Len(); i++ {
		t, ok := f.ConcreteAt(i)
		if !ok {
			return errors.New("the Time series format needs a time on every row: column " + f.Name + " has NULL")
		}
		tm := t.(time.Time)
		if i > 0 && tm.Before(prev) {
			return errors.New("the Time series format needs rows in time order: add ORDER BY " + f.Name)
		}
		prev = tm
	}
	return nil
}
