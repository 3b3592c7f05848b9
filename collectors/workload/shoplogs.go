package workload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// logLine is one line of the JSON lines log API (POST /api/v1/logs).
type logLine struct {
	Time       string            `json:"time"`
	Service    string            `json:"service"`
	Severity   string            `json:"severity"`
	Message    string            `json:"message"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// chatter is what each shop service says when all is well, as templates
// with variable parts, so log-pattern mining has something real to find.
var chatter = map[string][]string{
	"gateway":   {"GET /api/products/%d 200 %dms", "GET /api/cart 200 %dms", "POST /api/checkout 302 %dms"},
	"checkout":  {"cart %d validated in %dms", "order %d created for customer c-%d", "applied coupon SPRING%d to order %d"},
	"payment":   {"authorised payment for order %d amount %d.%02d EUR", "card token refreshed for customer c-%d", "3DS challenge passed for order %d"},
	"inventory": {"reserved %d units of sku-%d", "stock level sku-%d now %d", "nightly reconciliation batch %d done"},
	"delivery":  {"label printed for parcel p-%d", "parcel p-%d handed to carrier %d", "route %d planned with %d stops"},
}

var warnings = map[string]string{
	"gateway":   "upstream checkout slow: %dms",
	"checkout":  "retrying inventory reservation for order %d",
	"payment":   "payment provider latency %dms above budget",
	"inventory": "slow query on stock table took %dms",
	"delivery":  "carrier API returned 429, backing off %dms",
}

// LogsBody returns a JSON lines body with n lines of normal chatter at
// time now, about 2% warnings, and errors in proportion to errRatio.
func (s *Shop) LogsBody(now time.Time, n int, errRatio float64) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := 0; i < n; i++ {
		svc := shopServices[s.rng.IntN(len(shopServices))].name
		inst := fmt.Sprintf("%s-%c", svc, 'a'+rune(s.rng.IntN(s.Instances)))
		line := logLine{
			Time:       now.Add(time.Duration(i) * time.Microsecond).UTC().Format(time.RFC3339Nano),
			Service:    svc,
			Severity:   "info",
			Attributes: map[string]string{"instance": inst, "region": s.Region},
		}
		d, dbSlow := s.dbLatency.at(now)
		switch r := s.rng.Float64(); {
		case dbSlow && d >= dbPaymentErrorsAfter && svc == "payment" && r < 0.3:
			// A message payment never logged before: a new template.
			line.Severity = "error"
			line.Message = fmt.Sprintf("payment-db query timed out after %dms for order %d (pool %d/50 busy)",
				3000+s.rng.IntN(2000), s.rng.IntN(1_000_000), 45+s.rng.IntN(6))
		case r < errRatio:
			line.Severity = "error"
			// One word for the cause, so the three causes are one template
			// with a variable (as a real service's error line is) and the
			// template is learnt in the warm-up, not "new" at a random
			// later moment.
			line.Message = fmt.Sprintf("request %d failed: %s", s.rng.IntN(1_000_000), pick(s.rng, "ECONNRESET", "ETIMEDOUT", "EUPSTREAM503"))
		case r < errRatio+0.02:
			line.Severity = "warn"
			line.Message = fmt.Sprintf(warnings[svc], 200+s.rng.IntN(3000))
		default:
			tmpl := chatter[svc][s.rng.IntN(len(chatter[svc]))]
			line.Message = fmt.Sprintf(tmpl, s.rng.IntN(100000), s.rng.IntN(1000), s.rng.IntN(100))
		}
		enc.Encode(line)
	}
	return buf.Bytes()
}

// supportMessage is one message of the generic support API (POST /api/v1/support).
type supportMessage struct {
	ID       string `json:"id"`
	Time     string `json:"time"`
	Channel  string `json:"channel"`
	Customer string `json:"customer"`
	Text     string `json:"text"`
	Language string `json:"language,omitempty"`
}

// A steady trickle of ordinary questions, in English and Chinese.
var questions = []struct{ text, lang string }{
	{"Hi, how long does delivery to Lyon usually take?", "en"},
	{"Can I change the size of an item after ordering?", "en"},
	{"Do you ship to Norway?", "en"},
	{"Is the blue jacket coming back in stock?", "en"},
	{"Where can I find my invoice?", "en"},
	{"请问发货一般需要几天？", "zh"},
	{"可以修改收货地址吗？", "zh"},
	{"这款外套还会补货吗？", "zh"},
}

// complaints arrive once payment-db-latency has reached checkout.
var complaints = []struct{ text, lang string }{
	{"Payment failed three times and my card was still charged. This is terrible!", "en"},
	{"I can't pay for my order, the payment keeps failing. Very frustrating.", "en"},
	{"Your checkout is broken, payment error again and again, refund me now!", "en"},
	{"付款一直失败，钱扣了订单却没成功，太糟糕了！", "zh"},
	{"支付失败好几次了，到底怎么回事？非常不满意。", "zh"},
	{"付款失败，卡被扣款了，请马上退款！", "zh"},
}

// SupportBody returns a JSON array of n support messages at time now, plus
// complaints about failed payments while payment-db-latency hurts checkout.
func (s *Shop) SupportBody(now time.Time, n int) []byte {
	msgs := make([]supportMessage, n)
	if d, ok := s.dbLatency.at(now); ok && d >= dbComplaintsAfter {
		for i := 0; i < 4; i++ {
			c := complaints[s.rng.IntN(len(complaints))]
			msgs = append(msgs, supportMessage{Text: c.text, Language: c.lang})
		}
	}
	for i := range msgs {
		if msgs[i].Text != "" { // a complaint: fill in the rest
			msgs[i].ID = fmt.Sprintf("demo-%d-%d", now.UnixNano(), i)
			msgs[i].Time = now.UTC().Format(time.RFC3339Nano)
			msgs[i].Channel = "chat"
			msgs[i].Customer = fmt.Sprintf("c-%d", s.rng.IntN(50000))
			continue
		}
		q := questions[s.rng.IntN(len(questions))]
		msgs[i] = supportMessage{
			ID:       fmt.Sprintf("demo-%d-%d", now.UnixNano(), i),
			Time:     now.UTC().Format(time.RFC3339Nano),
			Channel:  pick(s.rng, "chat", "email", "ticket"),
			Customer: fmt.Sprintf("c-%d", s.rng.IntN(50000)),
			Text:     q.text,
			Language: q.lang,
		}
	}
	b, _ := json.Marshal(msgs)
	return b
}

func pick(rng *rand.Rand, options ...string) string { return options[rng.IntN(len(options))] }
