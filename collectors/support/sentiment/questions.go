package sentiment

import (
	"strings"
	"unicode"
)

// Support channels are full of polite questions ("请问发货一般需要几天？",
// "how long does delivery take?") that review-trained models read as
// negative: "一般" is a so-so review, "long" a complaint. A question that
// names no complaint is not one, so the model's score for it is damped
// like a message without sentiment words. A question that does ("why was
// I charged twice?", "为什么付款失败？") keeps its score.

// isPlainQuestion reports whether text is a question with no complaint
// word in it.
func isPlainQuestion(text string) bool {
	t := strings.TrimRightFunc(text, func(r rune) bool { return unicode.IsSpace(r) || r == '!' || r == '！' })
	if !strings.HasSuffix(t, "?") && !strings.HasSuffix(t, "？") && !strings.HasSuffix(t, "吗") && !strings.HasSuffix(t, "呢") {
		return false
	}
	lower := strings.ToLower(t)
	for _, w := range complaintWords {
		if strings.Contains(lower, w) {
			return false
		}
	}
	return true
}

// complaintWords mark a question as a complaint (English as lower-case
// stems, Chinese as words).
var complaintWords = []string{
	"fail", "broken", "not work", "doesn't work", "didn't", "never", "still not", "again", "charged", "twice",
	"refund", "wrong", "missing", "lost", "damaged", "terrible", "awful", "worst", "unacceptable", "angry",
	"ridiculous", "scam", "why", "cancel",
	"失败", "不行", "坏", "错", "没收到", "还没", "丢", "破", "差", "糟", "垃圾", "骗", "投诉", "退款", "扣款",
	"扣钱", "两次", "为什么", "怎么回事", "到底", "不满", "生气", "取消",
}
