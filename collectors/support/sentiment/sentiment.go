// Package sentiment scores customer messages from -1 (angry) to 1 (happy).
//
// The collector depends only on Scorer. This package ships two: Model, a
// logistic regression over hashed zh/en n-grams trained by Train and
// embedded in the binary (model/README.md: data, licenses, retraining),
// which is the collector's default (Default); and Baseline, a lexicon
// scorer with negation, intensifiers and contrast, kept for comparison and
// as a fallback. Evaluate reports a model on labelled rows it never saw.
package sentiment

import "math"

// Labels.
const (
	Negative = "negative"
	Neutral  = "neutral"
	Positive = "positive"
)

// Result is one message's sentiment.
type Result struct {
	Score float64 // -1 … 1
	Label string  // Negative, Neutral or Positive
}

// Scorer scores one message. text is already redacted (it may hold tags
// such as [EMAIL]); lang is the detected or declared language ("zh", "en",
// "und", …) so that a scorer with a model per language can pick one.
// Implementations must be safe for concurrent use, never panic, and return
// a Score in [-1, 1] and one of the three labels.
type Scorer interface {
	Score(text, lang string) Result
}

// DefaultNeutralBand is the half-width of the neutral band around 0.
const DefaultNeutralBand = 0.1

// LabelFor labels a score: Neutral within band of 0.
func LabelFor(score, band float64) string {
	switch {
	case score <= -band && score < 0:
		return Negative
	case score >= band && score > 0:
		return Positive
	}
	return Neutral
}

// Clamp bounds a model's score to [-1, 1] and maps NaN to 0, for Scorer
// implementations that want to be safe against their own arithmetic.
func Clamp(score float64) float64 {
	switch {
	case math.IsNaN(score):
		return 0
	case score < -1:
		return -1
	case score > 1:
		return 1
	}
	return score
}
