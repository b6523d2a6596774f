"""The floors any classifier must beat: the majority class and TF-IDF + logistic regression."""
from __future__ import annotations

import numpy as np

from exaone_bench.evaluation.classification import classification_metrics


def floors(train_texts, train_labels, test_texts, test_labels, seed: int = 0) -> dict:
    """Reference rows that need no LLM: majority class and TF-IDF + logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    labels = np.asarray(test_labels)
    majority = np.bincount(np.asarray(train_labels)).argmax()
    n = int(max(labels.max(), np.max(train_labels))) + 1
    major_logits = np.full((len(labels), n), -5.0)
    major_logits[:, majority] = 5.0
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    clf = LogisticRegression(max_iter=2000, C=4.0, random_state=seed)
    clf.fit(vec.fit_transform(train_texts), train_labels)
    tfidf_logits = clf.predict_log_proba(vec.transform(test_texts))
    return {"majority_class": classification_metrics(labels, major_logits),
            "tfidf_logreg": classification_metrics(labels, tfidf_logits)}
