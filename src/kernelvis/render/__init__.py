"""What a person looks at: colour wheel, HSV motion, arrows, GIF/PNG writers, panels and figures."""
