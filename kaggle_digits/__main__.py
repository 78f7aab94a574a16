from kaggle_digits.cli import main

main()
