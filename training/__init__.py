"""SFT recipes and entry points: the embedded SmolLM2 model, TRL SFT, the CPU benchmark, the OpenAI path."""
