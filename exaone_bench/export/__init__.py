"""Writing models out: a compressed checkpoint that reloads with from_pretrained (`compress`), and GGUF."""
