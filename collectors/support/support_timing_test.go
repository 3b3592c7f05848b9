package support

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// benchTexts are support messages of typical length, both languages, some
// with personal data.
var benchTexts = []string{
	"Hi, my order #88231 has not arrived yet and the tracking page has not changed for three days. Can you check?",
	"My card was declined twice at checkout but I was still charged, please refund me. Email jane.doe@example.com",
	"Thanks a lot, the refund arrived today and your team was really helpful!",
	"The app keeps crashing when I try to log in, I reset my password already. Call me on +44 20 7946 0958",
	"支付失败了，钱被扣了但是订单没有生成，客服也不回复，太坑了，请尽快退款",
	"快递三天了还没到，物流信息也不更新，我的手机号是13812345678",
	"送餐很快，味道不错，小哥态度也很好，下次还会再点",
	"请问怎么修改收货地址？",
}

// BenchmarkEnrich measures the per-message edge work: redaction, language,
// sentiment, categories and service attribution, on one core.
func BenchmarkEnrich(b *testing.B) {
	c, _ := newCollector(b, acceptSink{}, Config{})
	n := 0
	for _, s := range benchTexts {
		n += len(s)
	}
	b.SetBytes(int64(n / len(benchTexts)))
	b.ReportAllocs()
	var m records.SupportMessage
	i := 0
	for b.Loop() {
		m = records.SupportMessage{Text: benchTexts[i%len(benchTexts)], Customer: "cust-1"}
		c.Enrich(&m)
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "messages/s")
}

// BenchmarkGenericHandler measures the whole generic endpoint on one core
// (read, decode, validate, enrich, encode the records and the reply) with a
// sink that acknowledges at once: 100 messages per request.
func BenchmarkGenericHandler(b *testing.B) {
	c, _ := newCollector(b, acceptSink{}, Config{})
	h := c.Generic()
	var batch []map[string]string
	for i := 0; i < 100; i++ {
		batch = append(batch, map[string]string{
			"id": fmt.Sprintf("m-%d", i), "time": "2026-11-03T10:00:00Z", "channel": "chat",
			"customer": "cust-1", "text": benchTexts[i%len(benchTexts)],
		})
	}
	body, _ := json.Marshal(batch)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	requests := 0
	for b.Loop() {
		rec := post(b, h, "/api/v1/support", body, nil)
		if rec.Code != http.StatusAccepted {
			b.Fatal(rec.Code, rec.Body)
		}
		requests++
	}
	b.ReportMetric(float64(requests*len(batch))/b.Elapsed().Seconds(), "messages/s")
}
