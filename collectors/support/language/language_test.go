package language

import "testing"

func TestDetect(t *testing.T) {
	cases := []struct{ text, want string }{
		{"My payment failed twice and I was charged", English},
		{"card declined", English},
		{"refund??", English},
		{"支付失败了，钱被扣了但是订单没有生成", Chinese},
		{"好", Chinese},
		{"登录不了 app 一直显示 error", Chinese},
		{"我的邮箱是 [EMAIL]，电话 [PHONE]", Chinese},
		{"請問我的訂單什麼時候到", Chinese},
		{"The app says 支付失败 when I pay with my credit card", English},
		{"注文した商品がまだ届きません", Japanese},
		{"배송이 너무 늦어요", Korean},
		{"Je ne peux pas payer avec ma carte, c'est la deuxième fois", Undetermined},
		{"Ich kann mich nicht einloggen und das ist nicht gut", Undetermined},
		{"No puedo pagar con mi tarjeta y es muy urgente", Undetermined},
		{"Заказ не пришёл", Undetermined},
		{"", Undetermined},
		{"12345 !!! 😡", Undetermined},
		{"[EMAIL] [PHONE]", Undetermined},
		{"<@U024BE7LH> 付款一直失败 https://shop.example.com/orders/123", Chinese},
		{"@support 退款呢", Chinese},
	}
	for _, c := range cases {
		if got := Detect(c.text); got != c.want {
			t.Errorf("Detect(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}

func TestDetectDoesNotAllocate(t *testing.T) {
	text := "Hello, the APP crashed again!! 支付失败 [EMAIL]"
	if n := testing.AllocsPerRun(100, func() { Detect(text) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func FuzzDetect(f *testing.F) {
	f.Add("支付失败 payment failed [EMAIL] <@U1> https://x")
	f.Fuzz(func(t *testing.T, s string) {
		switch Detect(s) {
		case Chinese, English, Japanese, Korean, Undetermined:
		default:
			t.Fatal("unknown code")
		}
	})
}

func BenchmarkDetect(b *testing.B) {
	texts := []string{"My payment failed twice and I was charged, please refund me", "支付失败了，钱被扣了但是订单没有生成，请尽快处理"}
	for b.Loop() {
		for _, s := range texts {
			Detect(s)
		}
	}
}
