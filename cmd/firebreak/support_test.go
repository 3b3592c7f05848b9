package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/collectors/workload"
)

// Customer messages in both languages reach support_messages scored,
// categorised, attributed and with personal data redacted.
func TestSupportMessagesEndToEnd(t *testing.T) {
	p := start(t, t.TempDir(), "", "")
	body := `[
	 {"id":"m1","time":"2026-11-22T06:00:00Z","channel":"chat","customer":"c-1",
	  "text":"Payment failed three times and my card was charged twice! Terrible. Mail me at jane.doe@example.com or +44 7700 900123"},
	 {"id":"m2","time":"2026-11-22T06:00:01Z","channel":"email","customer":"c-2",
	  "text":"支付一直失败，钱被扣了两次，太差了！我的电话 13812345678"}
	]`
	s := workload.NewSender(p.base + "/api/v1/support")
	if err := s.SendBody(context.Background(), []byte(body), "application/json"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var r sqlResult
	for {
		_, r = p.sql(t, `SELECT message_id, language, label, sentiment, service, categories, text FROM support_messages ORDER BY message_id`)
		if len(r.Rows) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(r.Rows) != 2 {
		t.Fatalf("support_messages holds %d rows: %s", len(r.Rows), r.Error)
	}
	for i, lang := range []string{"en", "zh"} {
		row := r.Rows[i]
		var got struct {
			lang, label, service, text string
			score                      float64
			cats                       []string
		}
		json.Unmarshal(row[1], &got.lang)
		json.Unmarshal(row[2], &got.label)
		json.Unmarshal(row[3], &got.score)
		json.Unmarshal(row[4], &got.service)
		json.Unmarshal(row[5], &got.cats)
		json.Unmarshal(row[6], &got.text)
		if got.lang != lang || got.label != "negative" || got.score >= 0 || got.service != "payment" {
			t.Errorf("message %d: language %s label %s score %.2f service %s", i, got.lang, got.label, got.score, got.service)
		}
		if !contains(strings.Join(got.cats, ","), "payment") {
			t.Errorf("message %d: categories %v", i, got.cats)
		}
		for _, pii := range []string{"jane.doe@example.com", "7700 900123", "13812345678"} {
			if strings.Contains(got.text, pii) {
				t.Errorf("message %d stored unredacted: %q", i, got.text)
			}
		}
	}
}

func jsonString(raw []byte, dst *string) { json.Unmarshal(raw, dst) }
