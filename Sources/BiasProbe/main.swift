print("biasprobe: under construction")
