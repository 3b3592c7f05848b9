package support

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/firebreak-aiops/firebreak/collectors/support/sentiment"
)

// Config is the support collector's configuration. The zero value works:
// every field has a default, documented beside it.
type Config struct {
	// Services maps a service name to keywords that attribute a message to
	// it when the sender did not name a service (the service with most
	// keyword hits wins; ties go to the earliest). Keyword syntax: see
	// package keywords ("card declined", "refund*", "支付"). nil means
	// DefaultServices(); an empty map turns attribution off.
	Services map[string][]string
	// Categories maps a complaint category to its keywords; a message gets
	// every category with a hit. nil means DefaultCategories().
	Categories map[string][]string

	// SlackSigningSecret verifies Slack's request signatures (Slack app
	// settings → Basic Information → Signing Secret). Without it the Slack
	// endpoint refuses every request with 401.
	SlackSigningSecret string
	// SlackReplayWindow is how far a Slack request timestamp may be from
	// now. Default 5 minutes, as Slack recommends.
	SlackReplayWindow time.Duration
	// SlackChannelServices attributes messages of a Slack channel (by id,
	// e.g. C024BE91L) to a service before keywords are tried.
	SlackChannelServices map[string]string

	// TicketSigningSecret, when set, requires ticket webhooks to carry
	// X-Firebreak-Signature: sha256=<hex HMAC-SHA256 of the body>.
	TicketSigningSecret string

	// CustomerKey, when set, turns a customer field that is an e-mail
	// address or phone number into a stable pseudonym ([EMAIL:<16 hex>] or
	// [PHONE:<16 hex>], an HMAC-SHA256 of the value under this key) instead
	// of a bare tag, so one customer's messages can still be grouped
	// without storing the address.
	CustomerKey string

	// MaxBodyBytes bounds a request body (413 beyond). Default 1 MiB.
	MaxBodyBytes int64
	// MaxMessages bounds the messages of one generic request (413 beyond).
	// Default 1000.
	MaxMessages int
	// MaxTextBytes bounds one message's text (413 beyond). Default 16 KiB.
	MaxTextBytes int
	// MaxFutureSkew is how far in the future a message time may be (400
	// beyond). Default 1 hour.
	MaxFutureSkew time.Duration

	// Scorer scores sentiment. Default sentiment.Default(): the trained
	// zh/en model embedded in the binary (sentiment.NewBaseline(), the
	// lexicon scorer, stays available for comparison or as a fallback).
	Scorer sentiment.Scorer
	// Registerer, when set, receives the collector's own metrics
	// (firebreak_collector_support_*); the shared ingest metrics are
	// registered by their owner.
	Registerer prometheus.Registerer
	// Logger for rare events (a misconfigured Slack secret). Default: discard.
	Logger *slog.Logger
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
}

// Channels a message may come through.
var Channels = []string{"chat", "email", "ticket", "phone", "social"}

func (c Config) withDefaults() Config {
	if c.Services == nil {
		c.Services = DefaultServices()
	}
	if c.Categories == nil {
		c.Categories = DefaultCategories()
	}
	if c.SlackReplayWindow <= 0 {
		c.SlackReplayWindow = 5 * time.Minute
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.MaxMessages <= 0 {
		c.MaxMessages = 1000
	}
	if c.MaxTextBytes <= 0 {
		c.MaxTextBytes = 16 << 10
	}
	if c.MaxFutureSkew <= 0 {
		c.MaxFutureSkew = time.Hour
	}
	if c.Scorer == nil {
		c.Scorer = sentiment.Default()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// namePattern is what service, region and category names may look like.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$`)

func (c Config) validate() error {
	for _, m := range []struct {
		what string
		m    map[string][]string
	}{{"service", c.Services}, {"category", c.Categories}} {
		for name := range m.m {
			if !namePattern.MatchString(name) {
				return fmt.Errorf("%s name %q: want letters, digits and ._:/- (at most 64)", m.what, name)
			}
		}
	}
	for ch, svc := range c.SlackChannelServices {
		if !namePattern.MatchString(svc) {
			return fmt.Errorf("slack channel %s: service name %q: want letters, digits and ._:/- (at most 64)", ch, svc)
		}
	}
	return nil
}

// KeywordFile is the YAML form of the keyword maps, for operators:
//
//	services:
//	  payment: [支付, payment*, card declined]
//	categories:
//	  refund: [退款, refund*]
//	slack_channel_services:
//	  C024BE91L: payment
type KeywordFile struct {
	Services             map[string][]string `yaml:"services"`
	Categories           map[string][]string `yaml:"categories"`
	SlackChannelServices map[string]string   `yaml:"slack_channel_services"`
}

// LoadKeywords applies a YAML keyword file to c: each service or category
// the file names replaces that entry of the defaults (an empty list removes
// it); the others keep their default keywords. Unknown keys are errors.
func (c *Config) LoadKeywords(data []byte) error {
	var f KeywordFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && err != io.EOF {
		return fmt.Errorf("support keywords: %w", err)
	}
	c.Services = overlay(c.Services, DefaultServices, f.Services)
	c.Categories = overlay(c.Categories, DefaultCategories, f.Categories)
	if len(f.SlackChannelServices) > 0 && c.SlackChannelServices == nil {
		c.SlackChannelServices = map[string]string{}
	}
	for ch, svc := range f.SlackChannelServices {
		c.SlackChannelServices[ch] = svc
	}
	return c.withDefaults().validate()
}

func overlay(base map[string][]string, def func() map[string][]string, over map[string][]string) map[string][]string {
	if base == nil {
		base = def()
	}
	out := map[string][]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if len(v) == 0 {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// DefaultServices attributes messages to the demo shop's services.
func DefaultServices() map[string][]string {
	return map[string][]string{
		"payment": {
			"payment*", "pay", "paid", "paying", "card declined", "declined", "credit card", "debit card",
			"charge*", "billing", "bill", "invoice*", "transaction*", "3d secure", "paypal", "apple pay",
			"google pay", "alipay", "wechat pay", "refund*", "chargeback*",
			"支付", "付款", "扣款", "扣费", "扣钱", "刷卡", "银行卡", "信用卡", "支付宝", "微信支付", "付不了",
			"付钱", "账单", "交易", "退款", "退钱", "盗刷", "付費", "支付失败",
		},
		"checkout": {
			"checkout", "check out", "cart", "basket", "place order", "place an order", "placing order",
			"promo code", "coupon*", "discount code", "voucher*",
			"结算", "下单", "下不了单", "购物车", "优惠券", "优惠码", "提交订单", "结账", "購物車",
		},
		"delivery": {
			"deliver*", "shipping", "shipment*", "shipped", "courier*", "parcel*", "package*", "tracking",
			"track my", "arriv*", "dispatch*", "driver", "rider",
			"快递", "物流", "配送", "送货", "发货", "收货", "派送", "送达", "运单", "骑手", "外卖", "送餐",
			"包裹", "快遞", "物流信息", "没收到", "还没到",
		},
		"inventory": {
			"out of stock", "in stock", "stock", "sold out", "availability", "backorder*", "restock*",
			"缺货", "库存", "没货", "有货", "售罄", "断货", "补货", "無貨",
		},
		"gateway": {
			"website", "site down", "app down", "is down", "went down", "bad gateway", "gateway", "502",
			"503", "504", "timed out", "timeout", "not loading", "won't load", "wont load", "can't load",
			"cannot load", "page not found", "server error", "login*", "log in", "sign in", "password",
			"网站", "网页", "打不开", "加载不出", "服务器", "崩了", "挂了", "宕机", "无法访问", "登录", "登陆",
			"登不上", "密码", "超时", "闪退", "登錄",
		},
	}
}

// DefaultCategories are the complaint categories, in English and Chinese.
func DefaultCategories() map[string][]string {
	return map[string][]string{
		"payment": {
			"payment*", "pay", "paid", "card declined", "declined", "charge*", "billing", "transaction*",
			"credit card", "debit card", "paypal", "支付", "付款", "扣款", "扣费", "扣钱", "银行卡", "信用卡",
			"支付宝", "微信支付", "付不了", "付費",
		},
		"refund": {
			"refund*", "money back", "reimburs*", "chargeback*", "退款", "退钱", "退费", "返还", "退貨", "退货",
		},
		"delivery": {
			"deliver*", "shipping", "shipment*", "shipped", "parcel*", "package*", "courier*", "tracking",
			"arriv*", "快递", "物流", "配送", "送货", "发货", "派送", "送达", "外卖", "送餐", "包裹", "骑手",
			"快遞", "没收到", "还没到",
		},
		"login": {
			"login*", "log in", "logged out", "sign in", "password*", "2fa", "two factor", "verification code",
			"otp", "locked out", "登录", "登陆", "登入", "密码", "验证码", "登不上", "登錄", "密碼",
		},
		"outage": {
			"outage*", "is down", "site down", "app down", "went down", "not loading", "won't load",
			"wont load", "can't load", "cannot load", "crash*", "server error", "bad gateway", "502", "503",
			"504", "unavailable", "not working", "doesn't work", "error*",
			"打不开", "崩了", "挂了", "宕机", "无法访问", "闪退", "报错", "故障", "出错", "系统错误",
		},
		"performance": {
			"slow*", "lag*", "takes forever", "taking forever", "timed out", "timeout*", "loading forever",
			"卡顿", "很慢", "太慢", "加载慢", "超时", "反应慢", "好慢", "卡死",
		},
		"order": {
			"wrong item", "missing item*", "damaged", "broken", "defective", "wrong size", "cancel*",
			"item missing", "not as described",
			"发错", "漏发", "少发", "漏送", "少送", "送错", "破损", "损坏", "坏了", "取消订单", "订单取消", "质量问题",
		},
		"account": {
			"account*", "profile", "delete my", "my address", "change address", "email address", "subscription*",
			"账号", "账户", "帐号", "个人信息", "注销", "修改地址", "会员", "封号",
		},
		"security": {
			"fraud*", "scam*", "unauthori*", "hacked", "stolen", "phishing", "suspicious", "identity theft",
			"盗刷", "被盗", "诈骗", "骗子", "钓鱼", "可疑", "盗号", "被骗",
		},
		"pricing": {
			"price*", "expensive", "overcharg*", "too much", "fee", "fees", "discount*", "promo*", "coupon*",
			"价格", "太贵", "收费", "运费", "优惠", "折扣", "多收", "涨价", "价钱",
		},
		"support": {
			"rude", "no response", "no reply", "nobody answer*", "no one answer*", "customer service",
			"support team", "on hold", "agent*", "客服", "态度", "不回复", "没人理", "没人管", "人工", "敷衍",
		},
	}
}
